"""Reads a TensorBoard log folder with TensorBoard's own reader and prints every scalar as JSON.

Usage: python scripts/tensorboard_read.py <logdir>
Output: {"<run>": {"<tag>": [[step, value], ...]}}, runs named as TensorBoard names them (the
folder below <logdir>), steps in the order TensorBoard keeps them.

Needs PyPI's tensorboard (pinned in the justfile's `tensorboard-venv`); the integration test
`tensorboard::tensorboard_reads_what_a_stage_wrote` calls it to check slr's event files against
metrics.csv.
"""

import json
import sys

from tensorboard.backend.event_processing import event_multiplexer


def main() -> None:
    logdir = sys.argv[1]
    # size_guidance 0: keep every scalar (the default samples 1000 per tag).
    multiplexer = event_multiplexer.EventMultiplexer(
        size_guidance={"scalars": 0, "tensors": 0}
    )
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    out = {}
    for run, content in sorted(multiplexer.Runs().items()):
        tags = {}
        # Scalars written as `simple_value` arrive as scalar tensors (TensorBoard migrates them).
        for tag in sorted(content.get("tensors", [])):
            tags[tag] = [
                [event.step, float(tensor_value(event.tensor_proto))]
                for event in multiplexer.Tensors(run, tag)
            ]
        for tag in sorted(content.get("scalars", [])):
            tags[tag] = [[event.step, event.value] for event in multiplexer.Scalars(run, tag)]
        out[run] = tags
    json.dump(out, sys.stdout, sort_keys=True)


def tensor_value(proto) -> float:
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(proto).item()


if __name__ == "__main__":
    main()
