"""Cluster plumbing: the SLURM profile's installation and a Ray cluster across an allocation's nodes."""
