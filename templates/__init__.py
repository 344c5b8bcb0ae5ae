"""Editorial data, not code: episode formats (formats/*.yaml) and prompts (prompts/). Installed as
package data of `nightcast.templates`; `Settings.templates_dir` points here unless configured."""
