"""Where the data and models come from: the embedded demo's packages, the paper's hub assets, hub fetches."""
