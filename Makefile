# zinc: the two commands of the README, plus the developer targets. CMake does the real work.
BUILD      ?= build
SAN_BUILD  ?= build-san
JOBS       ?= $(shell nproc)
FUZZ_SECS  ?= 60

.PHONY: all deps build test test-fast run stop format format-check fuzz bench lint clean

all: build

deps:
	@bash tools/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZN_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The test suite runs under AddressSanitizer and UndefinedBehaviorSanitizer (clang, as CI does).
test: deps format-check
	@CC=clang cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DZN_SANITIZE=ON -DZN_WERROR=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	@cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS) --timeout 600

test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

run: build
	@bash tools/run.sh start

stop:
	@bash tools/run.sh stop

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run -Werror
	@bash tools/banned.sh

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DZN_FUZZ=ON -DZN_FAILPOINTS=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	@bash tools/fuzz.sh build-fuzz $(FUZZ_SECS)

# clang-tidy (checks in .clang-tidy) and cppcheck over the shipped code; both fail on any finding.
lint: build
	@run-clang-tidy-14 -p $(BUILD) -quiet -j $(JOBS) '^$(CURDIR)/(core|proto|broker|store|http|agents)/' >/tmp/zn-tidy.log 2>&1 \
	    || { sed 's/\x1b\[[0-9;]*m//g' /tmp/zn-tidy.log | grep -E '(warning|error):' | sort -u; exit 1; }
	@cppcheck --enable=warning,portability,performance --std=c11 --error-exitcode=1 --inline-suppr -q \
	    -j $(JOBS) -D_GNU_SOURCE -I core -I proto -I broker -I store -I http \
	    --suppress=missingIncludeSystem core proto broker store http agents
	@echo "lint: clang-tidy and cppcheck clean"

bench: build
	@bash bench/run all

clean:
	@rm -rf $(BUILD) $(SAN_BUILD) build-fuzz

# Debian packages (zinc-common, zinc-controller, zinc-compute, zinc-tools) from a release tree
# without failpoints, into $(DEB_BUILD)/packages/; see packaging/ and docs/deploy.md.
DEB_BUILD ?= build-deb
.PHONY: deb
deb: deps
	@cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZN_WERROR=ON -DZN_FAILPOINTS=OFF >/dev/null
	@cmake --build $(DEB_BUILD) -j $(JOBS) --target zn_pkg_configs zincctl
	@cd $(DEB_BUILD) && cpack -G DEB -B packages >/dev/null
	@ls -1 $(DEB_BUILD)/packages/*.deb
