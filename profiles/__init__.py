"""Example listeners, the default YAML profile store. Installed as package data of
`nightcast.profiles`; `Settings.profiles_dir` points here unless configured."""
