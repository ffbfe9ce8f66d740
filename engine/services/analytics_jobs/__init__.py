"""The analytics-pipeline seed's batch jobs: input files (`inputs`), the batch processor (`batch`), its
JSON outputs (`outputs`) and the jobs with their runs and schedule (`jobs`)."""
