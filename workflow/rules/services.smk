# servers: per_run (the local profile): one vLLM server per `backend: vllm` generator and per trained searcher that
# runs on vLLM, and one retriever server per index the run searches, each started once its model or index exists,
# reached by every job, stopped when the run ends (s3core.serving.run_servers).
if config["servers"] == "per_run":
    from s3core.generation.run_servers import (
        ENV as GENERATORS_ENV,
        generator_services,
        searcher_services,
    )
    from s3core.serving.run_servers import RunServers
    from s3core.stages.services import RETRIEVERS_ENV, retriever_services

    RUN_SERVERS = {
        "generators": RunServers(PATHS.services("generators"), GENERATORS_ENV),
        "retrievers": RunServers(PATHS.services("retrievers"), RETRIEVERS_ENV),
    }

    onstart:
        RUN_SERVERS["generators"].start(
            generator_services(PLAN.settings().generators)
            + searcher_services(PLAN.trained_searchers())
        )
        RUN_SERVERS["retrievers"].start(
            retriever_services(
                PLAN.searched_indexes(),
                PLAN.settings().retriever,
                PATHS.services_logs,
            )
        )

    onsuccess:
        for servers in RUN_SERVERS.values():
            servers.stop()

    onerror:
        for servers in RUN_SERVERS.values():
            servers.stop()
