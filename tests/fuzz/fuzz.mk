# tests/fuzz/fuzz.mk — links the libFuzzer targets; driven by scripts/fuzz.sh.
#
# An add-on to the main Makefile, read after it so the library is built by
# the project's own rules (same sources, generated files and packages as
# every other flavour) into a separate BUILD directory:
#
#   CC=clang SANITIZE=address,undefined CFLAGS='-O1 -g -fsanitize=fuzzer-no-link' \
#       make -f Makefile -f tests/fuzz/fuzz.mk BUILD=build/fuzz fuzz-build
#
# CC, SANITIZE and CFLAGS go through the environment, not the command line:
# the Makefile appends its include paths and warnings to CFLAGS with +=, which
# a command-line CFLAGS would silently override. Every library object thus
# carries coverage instrumentation (fuzzer-no-link) plus ASan and UBSan, and
# never mixes with the build/<flavour> objects. Each tests/fuzz/fuzz_<name>.c
# becomes $(BUILD)/fuzz_<name>, linked with libFuzzer's main.

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/%)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BIN)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< $(LIB) $(LDLIBS)

-include $(wildcard $(BUILD)/fuzz_*.d)
