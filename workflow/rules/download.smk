# Stage 0: the real datasets in DomainBed layout under datasets_root, one prepare rule each.
# The rule's output is a marker (cdga.core.layout.prepared_marker), not the dataset folder: a
# datasets_root that already holds the data (possibly read-only) is only checked, never fetched
# again, and the DAG never walks hundreds of thousands of image files to compare times.
from cdga.core.registry import downloadable

for _dataset in downloadable():

    rule:
        name:
            f"prepare_{_dataset}"
        output:
            layout.prepared_marker(_dataset),
        params:
            dataset=_dataset,
            root=DATA_ROOT,
            sources=config["downloads"].get(_dataset, []),
        log:
            layout.log(f"prepare_{_dataset}"),
        benchmark:
            layout.benchmark(f"prepare_{_dataset}")
        # Clusters usually reach the internet only from the submit host.
        localrule: True
        conda:
            CONDA_ENV
        script:
            "../scripts/prepare_dataset.py"
