# generator_servers: per_run (the local profile): one vLLM server per `backend: vllm` generator for the whole run,
# started when the run starts (it waits for the model folder), reached by every job, stopped when the run ends.
if config["generator_servers"] == "per_run":
    from s3core.generation.run_servers import RunServers

    RUN_SERVERS = RunServers(f"{RESULTS}/services/generators")

    onstart:
        RUN_SERVERS.start(method_config().generators)

    onsuccess:
        RUN_SERVERS.stop()

    onerror:
        RUN_SERVERS.stop()
