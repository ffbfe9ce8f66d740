"""Jobs: the job queue (procrastinate, behind `engine.jobs.queue`), the scheduler's tick and the tasks the
`driftline worker` processes run. Above the services: jobs open units of work and call services."""
