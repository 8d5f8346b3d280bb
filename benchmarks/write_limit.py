"""How fast a frame of sampled rows can be written as CSV, nothing else: the limit that
the steady sampling rate is compared with.

    python benchmarks/write_limit.py MODEL N THREADS

Makes ``N`` rows of MODEL in memory (seed 1), then times, on the same frame, in chunks
of the sampler's size: pandas' ``to_csv``; Arrow's CSV writer alone (the frame already
an Arrow table); and synthvae's own renderer (the frame to CSV text, as ``sample``
formats it) on one thread and on THREADS. Prints one JSON object of rows/s.
"""

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.csv as pacsv

from synthvae.generation import CHUNK_ROWS
from synthvae.io import renderer
from synthvae.sampling import Sampler


def rate(n, write, chunks, threads=1):
    with open(os.devnull, "w") as sink, ThreadPoolExecutor(threads) as pool:
        clock = time.perf_counter()
        for text in pool.map(write, chunks):
            sink.write(text)
        return n / (time.perf_counter() - clock)


def main(model, n, threads):
    sampler = Sampler.load(model)
    frame = sampler.sample(n, random_state=1)
    render = renderer("csv", [c.name for c in sampler.schema.columns if c.kind == "integer"])
    chunks = [frame.iloc[i : i + CHUNK_ROWS] for i in range(0, n, CHUNK_ROWS)]
    tables = [pa.Table.from_pandas(c, preserve_index=False) for c in chunks]

    def arrow_only(table):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
        return sink.getvalue().to_pybytes().decode()

    figures = {
        "rows": n,
        "pandas_to_csv": rate(n, lambda c: c.to_csv(index=False, header=False), chunks),
        "arrow_write_csv": rate(n, arrow_only, tables),
        "arrow_write_csv_threads": rate(n, arrow_only, tables, threads),
        "renderer": rate(n, render, chunks),
        "renderer_threads": rate(n, render, chunks, threads),
        "threads": threads,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
