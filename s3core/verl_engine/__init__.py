"""The scale engine (`train.engine: verl`): s3's searcher trained by verl's PPO with a critic, on a Ray cluster.

`agent_loop` plays the shared episode coroutine inside verl's rollout workers and rewards Gain Beyond RAG;
`data` writes the training questions as verl reads them; `hydra_overrides` maps s3's config onto verl's;
`launch` runs verl's trainer and turns its outputs into the training rule's outputs. Only `agent_loop` and
`launch` import verl, which lives in the training env (envs/training.yaml).
"""
