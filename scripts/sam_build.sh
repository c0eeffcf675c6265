#!/usr/bin/env bash
# `sam build` of template.yaml as a deployment would run it: every function's arm64
# bootstrap through `BuildMethod: rust-cargolambda` (cargo lambda build --release
# --arm64 --bin NAME), into .aws-sam/build/. Then checks that every
# AWS::Serverless::Function of the template came out: its bootstrap exists, is an
# aarch64 ELF, and is the binary its BuildProperties name; prints each size and its
# zipped size (what Lambda is sent).
#   scripts/sam_build.sh              # extra arguments go to `sam build`
# Installs what it needs: the pinned tools (scripts/tools.sh --sam) and the Rust target.
# Cargo's output is kept in target-sam/ (gitignored): all the functions share it, so the
# AWS SDK is compiled once, and a second run only relinks what changed.
# Needs no AWS account: dummy credentials, no telemetry.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

log "tools (.tools/venv for cargo-lambda and zig, .tools/sam-venv)"
bash scripts/tools.sh --sam
SAM_VENV="$ROOT/.tools/sam-venv"

TARGET=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$TARGET"; then
  log "rustup target add $TARGET"
  rustup target add "$TARGET"
fi

# sam runs `cargo lambda`: cargo must find the venv's cargo-lambda (and zig, its linker).
export PATH="$VENV/bin:$PATH"
# One target directory for every function (the builder passes an explicit
# CARGO_TARGET_DIR through untouched, and copies each bootstrap from it), apart from
# the debug builds in target/.
export CARGO_TARGET_DIR="$ROOT/target-sam"
export SAM_CLI_TELEMETRY=0
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE

BUILD_DIR="$ROOT/.aws-sam/build"
log "sam build (arm64, release; the first run compiles the AWS SDK: many minutes)"
start=$SECONDS
"$SAM_VENV/bin/sam" build --template-file template.yaml --build-dir "$BUILD_DIR" "$@"
log "sam build took $((SECONDS - start)) s"

log "artifacts"
"$SAM_VENV/bin/python" - template.yaml "$BUILD_DIR" "$CARGO_TARGET_DIR/lambda" <<'PY'
import filecmp, io, os, struct, sys, zipfile
from samcli.yamlhelper import yaml_parse  # reads the !Ref/!Sub short forms

template_path, build_dir, lambda_dir = sys.argv[1:]
with open(template_path) as f:
    resources = yaml_parse(f.read())["Resources"]
functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
if not functions:
    sys.exit("error: template.yaml has no AWS::Serverless::Function")

EM_AARCH64 = 0xB7
errors = []
for logical_id, resource in sorted(functions.items()):
    binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    path = os.path.join(build_dir, logical_id, "bootstrap")
    if not os.path.isfile(path):
        errors.append(f"{logical_id}: {path} is missing")
        continue
    with open(path, "rb") as f:
        header = f.read(20)
    # e_ident: magic, EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian); e_machine at 18.
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
        errors.append(f"{logical_id}: {path} is not a 64-bit little-endian ELF")
        continue
    (machine,) = struct.unpack_from("<H", header, 18)
    if machine != EM_AARCH64:
        errors.append(f"{logical_id}: {path} is for ELF machine {machine:#x}, not aarch64 ({EM_AARCH64:#x})")
        continue
    # Each function its own binary: the one cargo lambda built for its BuildProperties.
    built = os.path.join(lambda_dir, binary or "", "bootstrap")
    if not binary or not os.path.isfile(built) or not filecmp.cmp(path, built, shallow=False):
        errors.append(f"{logical_id}: bootstrap is not the {binary!r} binary ({built})")
        continue
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    size = os.path.getsize(path)
    print(f"{logical_id:<20} {binary:<12} aarch64 ELF  bootstrap {size / 2**20:5.1f} MiB"
          f"  zip {buf.tell() / 2**20:5.1f} MiB")
if errors:
    sys.exit("error: " + "\nerror: ".join(errors))
print(f"{len(functions)} functions built for arm64 in {build_dir}")
PY
