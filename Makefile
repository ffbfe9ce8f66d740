.PHONY: demo stop test bench setup

demo:        ## fresh machine → TimescaleDB, cluster, migrations, API, demo stream
	bash scripts/demo.sh

stop:        ## stop the API and the local cluster
	bash scripts/stop.sh

test:        ## the whole test suite (installs what it needs)
	bash scripts/test.sh

setup:
	bash scripts/setup.sh
