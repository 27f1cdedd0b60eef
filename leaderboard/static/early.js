/* Run before the page is drawn (not deferred): with the script on, the main table opens on its
   Overview tab rather than flashing every column first. */
document.documentElement.classList.add("js");
