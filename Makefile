# make demo  : set up .venv and train the course's simple CNN on bundled digits
# make test  : set up .venv and run the test suite
# make bench : run the benchmarks (by hand; results go to benchmarks/README.md)
# make bench-tf : minicnn against TensorFlow/Keras (builds .venv-tf with tensorflow-cpu; needs the network)
# make lab LAB=pw09 PROFILE=quick : run a course lab (see `minicnn lab list`)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

LAB     ?= pw09
PROFILE ?= quick

TF_VENV := .venv-tf

.PHONY: venv demo test bench bench-tf lab clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m minicnn.kernels.warmup
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m minicnn.demo $(ARGS)

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_kernels.py
	$(PY) benchmarks/bench_train_step.py
	$(PY) benchmarks/bench_augment.py
	$(PY) benchmarks/bench_resnet50.py

# TensorFlow pins its own numpy: it gets an environment of its own, driven over a pipe.
$(TF_VENV)/.installed:
	$(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/python -m pip install -q tensorflow-cpu
	touch $@

bench-tf: $(STAMP) $(TF_VENV)/.installed
	$(PY) benchmarks/bench_tensorflow.py --tf-python $(TF_VENV)/bin/python

lab: $(STAMP)
	$(VENV)/bin/minicnn lab run $(LAB) --profile $(PROFILE) $(ARGS)

clean:
	rm -rf $(VENV) $(TF_VENV) runs .pytest_cache .hypothesis
