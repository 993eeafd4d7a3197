# servers: per_run (the local profile) or per_run_slurm: the run's servers (which ones: s3core.plan.servers), each
# started once its model or index exists, reached by every job, stopped when the run ends (s3core.stages.run_servers).
if config["servers"] != "per_job":
    from s3core.stages import run_servers

    RUN_SERVERS = run_servers.plan_services(PLAN)

    onstart:
        run_servers.start(RUN_SERVERS)

    onsuccess:
        run_servers.stop(RUN_SERVERS)

    onerror:
        run_servers.stop(RUN_SERVERS)
