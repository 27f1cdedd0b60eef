"""The static leaderboard: `build_site` renders a results folder into a site that works from
`file://` with no network; `publish` uploads it to a static Hugging Face Space."""

from leaderboard.build import BuildReport, build_site

__all__ = ["BuildReport", "build_site"]
