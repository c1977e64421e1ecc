# Every target sets up .venv itself, so a fresh clone needs nothing else.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# How llama-cpp-python is compiled here (2 cores, no BLAS, no network); pip caches the wheel.
export CMAKE_ARGS ?= -DGGML_NATIVE=ON -DGGML_BLAS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: serve test lint eval bench index clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: otherwise sentence-transformers pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

index: $(STAMP)
	$(BIN)/rag index build seeds

# One OpenMP thread per request (FAISS, torch): parallel requests, not oversubscribed cores.
serve: export OMP_NUM_THREADS ?= 1
serve: index
	$(BIN)/rag serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check rag index api eval tests
	$(BIN)/ruff format --check rag index api eval tests
	$(BIN)/mypy

# Both eval sets, each against an index of its own documents (built once under the cache dir)
# and its own baseline: the news set's test half, and SQuAD 2.0's Normans article.
SQUAD_NORMANS := eval/datasets/squad2-normans/dev-v2.0-normans.json
eval: $(STAMP)
	@status=0; \
	$(BIN)/rag eval --split test --json eval/out/report.json --html eval/out/report.html \
		--compare eval/baselines/default.json || status=1; \
	$(BIN)/rag eval --dataset squad:$(SQUAD_NORMANS) --json eval/out/squad-normans.json \
		--html eval/out/squad-normans.html --compare eval/baselines/squad-normans.json || status=1; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python bench/index_bench.py
	$(BIN)/python bench/retrieval_bench.py
	$(BIN)/python bench/http_bench.py
	$(BIN)/python bench/llm_bench.py

clean:
	rm -rf $(VENV) .rag
