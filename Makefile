# Thin wrapper over CMake for the README's commands. `make test` is what CI runs.
BUILD      ?= build/release
ASAN_BUILD ?= build/asan
FUZZ_BUILD ?= build/fuzz
JOBS       ?= $(shell nproc)
VENV       := .venv
INFERD     := $(BUILD)/src/cli/inferd
MODELS     ?= $(or $(INFERD_MODELS),$(HOME)/.cache/inferd/models)
MODEL      ?= $(MODELS)/SmolLM2-135M-Instruct.Q4_1.gguf
CMAKE_ARGS ?=

.PHONY: all setup build test unit pytest run asan-test fuzz-smoke clean

all: build

setup:
	@scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Every test: the C unit tests under ctest, then the pytest suite.
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	INFERD_BIN=$(abspath $(INFERD)) INFERD_MODELS=$(MODELS) $(VENV)/bin/python -m pytest -q tests/e2e

# Serves the default model on http://127.0.0.1:$(PORT) (Ctrl-C stops it).
PORT ?= 8080
run: build
	@echo "inferd: serving $(MODEL) on http://127.0.0.1:$(PORT); try:"
	@echo "  curl http://127.0.0.1:$(PORT)/v1/chat/completions -H 'Content-Type: application/json' -d '{\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}],\"max_tokens\":64}'"
	$(INFERD) serve -m $(MODEL) --port $(PORT)

# C unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs this too).
asan-test: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERD_SANITIZE=ON -DINFERD_CUDA=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -L unit

# libFuzzer targets, a bounded number of runs each over the corpus in tests/fuzz/corpus/.
fuzz-smoke: setup
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DINFERD_FUZZ=ON -DINFERD_CUDA=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -L fuzz

clean:
	rm -rf build
