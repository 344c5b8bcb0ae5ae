"""A render, validated before anything runs: the request (what the CLI flags, the API body and the
UI form all are) resolved into a job (profile, format, voices, backends, where the episode goes).
Plain code, no Prefect: the flows take a job and run the stages."""
