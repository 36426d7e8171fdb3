# Daily recipes. Builds share one target folder outside the clone.
set shell := ["bash", "-euo", "pipefail", "-c"]
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/slr-target")

# List the recipes.
default:
    @just --list

# Run a spec with a profile: `just reproduce lenet5-mnist smoke`.
reproduce spec profile="paper" *args="":
    cargo run --release -- reproduce {{spec}} --profile {{profile}} {{args}}

# Show every run of a spec and whether it is cached.
plan spec profile="paper":
    cargo run --release -- plan {{spec}} --profile {{profile}}

# Rebuild a spec's report from existing runs.
report spec profile="paper":
    cargo run --release -- report {{spec}} --profile {{profile}}

# Fetch the data the tests read (MNIST), then run the tests.
test:
    cargo run -- data fetch mnist
    cargo test

# Formatting and lints, as before every commit.
check:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
