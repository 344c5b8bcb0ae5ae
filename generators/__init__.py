"""Two stages of the data path (nightcast.generators): the script stage (script/, its backends are
writers) and the music stage (music/, its backends are generators). They never import each other."""
