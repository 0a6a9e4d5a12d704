# SPDX-License-Identifier: GPL-2.0
#
# KSM++ - see README.md.  Every target installs what it needs with apt-get.
# Build products go to $(KSMPP_BUILD_DIR) (default: ./build).

FLAVOUR ?= test
S := scripts

.PHONY: help demo bench bench-hints bench-cold bench-patch trace bench-replay test stress selftest series build tree boot clean distclean

help:
	@echo "make demo      build the bench kernel if needed, boot it, run the KSM demonstration"
	@echo "make bench     QEMU guests (mem-merge=on) in the bench kernel: scenarios x KSM modes (QUICK=1: about 5 min; SCENARIOS, MODES, AIO)"
	@echo "make bench-hints  the I/O-hints benchmark: stock, hints, stock at equal CPU, advisor (HINTS_RUNS, HINTS_CONFIGS, HINTS_CAP)"
	@echo "make bench-cold   the cold-page tier vs stock KSM, heterogeneous scenario (COLD_SECONDS, COLD_MIB, COLD_RUNS)"
	@echo "make bench-patch  the patch tier vs compression only vs stock KSM (PATCH_SECONDS, PATCH_PAGES)"
	@echo "make trace     record QEMU guests at the host level for replay (TRACE_GUESTS, TRACE_MEM, TRACE_JOBS; QUICK=1)"
	@echo "make bench-replay  replay the newest trace in the bench kernel in every mode (REPLAY_TRACE, REPLAY_RUNS, REPLAY_MODES, REPLAY_ARGS)"
	@echo "make test      the test suite (pipeline, series, checkpatch, kernel-doc, KUnit, selftests)"
	@echo "make stress    KASAN kernel, every tier on, randomized churn, pages checked (STRESS_SECONDS, default 1800)"
	@echo "make selftest T='name...'  build, boot and run only those lines of scripts/selftests.list"
	@echo "make series    emit the series as git format-patch files in build/series"
	@echo "make build     build one kernel flavour (FLAVOUR=test|bench, default test)"
	@echo "make boot CMD='...'   boot FLAVOUR and run CMD inside (default: a shell command list)"
	@echo "make clean     remove kernel objects (keeps the base tree and ccache)"
	@echo "make distclean remove the whole build directory"

demo:
	@$(S)/demo.sh
	@HINTS_RUNS=1 HINTS_CONFIGS="dup:2:256:buffered" HINTS_CAP=120 HINTS_READCOST=0 HINTS_ALT_PAIRS=0 $(S)/bench-hints.sh

bench:
	@QUICK="$(QUICK)" $(S)/bench.sh

bench-hints:
	@$(S)/bench-hints.sh

bench-cold:
	@$(S)/bench-cold.sh

bench-patch:
	@$(S)/bench-patch.sh

trace:
	@QUICK="$(QUICK)" $(S)/trace.sh

bench-replay:
	@$(S)/bench-replay.sh

test:
	@$(S)/test.sh

stress:
	@$(S)/stress.sh

selftest:
	@$(S)/selftest.sh $(T)

series:
	@$(S)/series.sh

tree:
	@$(S)/tree.sh

build:
	@$(S)/build.sh $(FLAVOUR)

CMD ?= uname -a; grep . /sys/kernel/mm/ksm/*
export CMD
boot:
	@$(S)/build.sh $(FLAVOUR)
	@$(S)/boot.sh -f $(FLAVOUR) -- sh -c "$$CMD"

clean:
	rm -rf $${KSMPP_BUILD_DIR:-build}/obj-* $${KSMPP_BUILD_DIR:-build}/selftests $${KSMPP_BUILD_DIR:-build}/runs

distclean:
	rm -rf $${KSMPP_BUILD_DIR:-build}
