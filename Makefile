# The two commands of the README: `make run` and `make check`.
BUILD ?= build
XENOND_ARGS ?=

.PHONY: all deps run check clean valgrind fuzz install

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

deps:
	scripts/deps.sh build

# Builds and starts xenond in the foreground with the defaults: data in
# /var/lib/xenon, HTTP on :80, HTTPS on :443, a root password printed.
run: deps all
	$(BUILD)/src/server/xenond $(XENOND_ARGS)

check:
	scripts/deps.sh test
	scripts/check.sh

# Every libFuzzer harness of fuzz/ for FUZZ_SECONDS each or FUZZ_RUNS
# executions, whichever first (clang, build-fuzz).
FUZZ_SECONDS ?= 300
FUZZ_RUNS ?= -1
fuzz:
	scripts/deps.sh test
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) scripts/fuzz.sh run

# The integration suites under valgrind's leak checker.
valgrind: deps all
	XENOND_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
		meson test -C $(BUILD) --suite integration --print-errorlogs

# Installs the build: PREFIX (default /usr/local) and DESTDIR as usual.
PREFIX ?= /usr/local
install: deps
	[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --prefix $(PREFIX)
	meson configure $(BUILD) --prefix $(PREFIX)
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) build-check build-fuzz
