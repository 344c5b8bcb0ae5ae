# The two commands: `make demo` renders an episode; `make test` runs the tests. Both set up first.
VENV := .venv
PROFILE ?= profiles/maya.yaml

.PHONY: demo test setup setup-test walkthrough bench bench-writers bench-voices bench-music bench-mix bench-resume bench-qa bench-nightly bench-cli clean

demo: setup
	$(VENV)/bin/nightcast render $(PROFILE)

test: setup-test
	$(VENV)/bin/python -m pytest -q -rs -n 2 --dist loadfile --no-loadscope-reorder

walkthrough: setup
	@bash scripts/service_walkthrough.sh

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh test,piper,llm,dask,kokoro

bench: setup
	$(VENV)/bin/python bench/render_bench.py

bench-writers: setup-test
	$(VENV)/bin/python bench/writer_bench.py

bench-voices: setup-test
	$(VENV)/bin/python bench/voices_bench.py

bench-music: setup-test
	$(VENV)/bin/python bench/music_bench.py

bench-mix: setup-test
	$(VENV)/bin/python bench/mix_bench.py

bench-resume: setup
	$(VENV)/bin/python bench/resume_bench.py

bench-qa: setup
	$(VENV)/bin/python bench/qa_bench.py

bench-nightly: setup-test
	$(VENV)/bin/python bench/nightly_bench.py

bench-cli: setup
	$(VENV)/bin/python bench/cli_bench.py

clean:
	rm -rf outputs/*/ .pytest_cache
