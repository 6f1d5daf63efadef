# entrepot — build, run and test.
#
#   make run    install what is missing, build, migrate ./var, serve :8080
#   make test   install what is missing, build, run every test tier
#
# Everything under src/ except src/cmd builds into one static library;
# src/cmd is the thin `entrepot` program on top. Builds live in build/<flavour>
# so a sanitizer build never mixes objects with a plain one.

SHELL := /bin/bash
CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif

# CI=true turns on sanitizers and -Werror unless told otherwise.
ifeq ($(CI),true)
SANITIZE ?= address,undefined
WERROR ?= 1
endif

comma := ,
FLAVOUR := $(if $(SANITIZE),san-$(subst $(comma),-,$(SANITIZE)),default)$(if $(FAULT_INJECTION),-fault)
BUILD ?= build/$(FLAVOUR)

PKGS := libmicrohttpd jansson sqlite3 libpq libsodium gnutls liboath libcurl vips md4c opencc icu-uc libzip
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wcast-qual -Wpointer-arith -Wformat=2 -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Isrc -I$(BUILD)/gen $(PKG_CFLAGS)
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifneq ($(FAULT_INJECTION),)
CFLAGS += -DENTREPOT_FAULT_INJECTION
endif
LDLIBS += $(PKG_LIBS) -lm -pthread

LIB_SRC := $(sort $(filter-out src/cmd/%,$(wildcard src/*/*.c)))
CMD_SRC := $(sort $(wildcard src/cmd/*.c))
GEN_SRC := $(BUILD)/gen/migrations.c $(BUILD)/gen/catalog.c $(BUILD)/gen/passwords.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_SRC:%.c=%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libentrepot.a
BIN := $(BUILD)/entrepot

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

MIGRATIONS := $(sort $(wildcard src/db/migrations/*/*.sql))
CATALOG := $(sort $(wildcard i18n/*.json))

.PHONY: FORCE all deps run test test-unit test-api test-api-sqlite test-api-postgres test-e2e \
        web fmt fmt-check lint bench bench-community fuzz fuzz-smoke clean test-tsan crash crash-long fault-build

all: $(BIN)

$(BIN): $(CMD_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJ) $(LIB) $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c | $(BUILD)/gen/migrations.c $(BUILD)/gen/catalog.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c -o $@ $<

# The generated files also depend on the *list* of their inputs, so removing
# a migration or a catalogue regenerates them too.
$(BUILD)/gen/%.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(if $(filter migrations,$*),$(MIGRATIONS),$(CATALOG))' | cmp -s - $@ || \
		echo '$(if $(filter migrations,$*),$(MIGRATIONS),$(CATALOG))' > $@
FORCE:

$(BUILD)/gen/migrations.c: scripts/embed-migrations.sh $(MIGRATIONS) $(BUILD)/gen/migrations.list
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh src/db/migrations > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/catalog.c: scripts/embed-catalog.sh $(CATALOG) $(BUILD)/gen/catalog.list
	@mkdir -p $(dir $@)
	scripts/embed-catalog.sh i18n > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/passwords.c: scripts/embed-passwords.sh $(wildcard /usr/share/john/password.lst)
	@mkdir -p $(dir $@)
	scripts/embed-passwords.sh /usr/share/john/password.lst > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- setup

# Installs Debian packages and the web app's npm packages when missing.
deps:
	@scripts/install-deps.sh

web/dist/index.html: $(shell find web/src web/public web/index.html web/vite.config.js i18n -type f 2>/dev/null) web/package-lock.json
	@scripts/install-deps.sh --npm
	cd web && npm run --silent build
	@touch $@

web: web/dist/index.html

run: deps all web
	$(BIN) serve --data-dir var

# ---------------------------------------------------------------- tests

# One command, every tier; scripts/test.sh prints the closing summary line.
test: deps all web $(UNIT_BIN) fault-build
	@BUILD=$(BUILD) FAULT_BUILD=$(FAULT_BUILD) scripts/test.sh

test-unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) scripts/test.sh unit

test-api: all
	@BUILD=$(BUILD) scripts/test.sh api-sqlite api-postgres

test-api-sqlite: all
	@BUILD=$(BUILD) scripts/test.sh api-sqlite

test-api-postgres: all
	@BUILD=$(BUILD) scripts/test.sh api-postgres

test-e2e: all web
	@BUILD=$(BUILD) scripts/test.sh e2e

test-tsan:
	$(MAKE) SANITIZE=thread test-unit test-api-sqlite

# The crash tier (tests/crash): kills, injected faults, database loss. Its
# fault-injection tests run a FAULT_INJECTION=1 build of the same flavour.
FAULT_BUILD := $(BUILD)-fault
fault-build:
	@$(MAKE) --no-print-directory FAULT_INJECTION=1 BUILD=$(FAULT_BUILD) all

crash: all fault-build
	@BUILD=$(BUILD) FAULT_BUILD=$(FAULT_BUILD) scripts/test.sh crash

crash-long: all fault-build
	@CRASH_LONG=1 BUILD=$(BUILD) FAULT_BUILD=$(FAULT_BUILD) scripts/test.sh crash

# ---------------------------------------------------------------- quality

FMT_FILES = $(shell git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 2>/dev/null)
fmt:
	clang-format -i $(FMT_FILES)

fmt-check:
	@clang-format --dry-run --Werror $(FMT_FILES) && echo "fmt-check: ok"

lint:
	@scripts/lint.sh

bench: all
	BUILD=$(BUILD) bench/run.sh

# The community on a million posts (makes a demo database once, minutes).
bench-community: all
	BUILD=$(BUILD) bench/community.py

fuzz-smoke:
	@scripts/fuzz.sh 20

fuzz:
	@scripts/fuzz.sh 600

clean:
	rm -rf build
