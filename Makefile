# Thin wrapper over CMake. The README's two commands:
#   make demo    install missing Debian packages, build, run the demo
#   make test    install missing Debian packages (with test references), build, run all tests
BUILD ?= build
JOBS ?= 2

.PHONY: all deps test-deps build demo test bench sanitize docs clean

all: build

deps:
	bash .ci/install-deps build

test-deps:
	bash .ci/install-deps test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	bash tests/e2e/demo.sh $(BUILD)

test: test-deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite built with AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize: test-deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DZM_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j $(JOBS)

bench: test-deps build
	bash tests/bench/run_all.sh $(BUILD)

docs: build
	$(BUILD)/zoomorph params --markdown > docs/config.md

clean:
	rm -rf $(BUILD) build-asan
