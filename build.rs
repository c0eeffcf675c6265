//! Links the Lambda functions as position-dependent executables (`-no-pie`).
//!
//! Why: a PIE binary of this size carries ~24,000 relative relocations that the dynamic
//! loader applies at every cold start, writing to (so copying) every page of
//! `.data.rel.ro`; glibc 2.34 (Lambda's `provided.al2023`) cannot take them packed
//! (`DT_RELR` needs 2.36). Linked at a fixed address there are none: less CPU to the
//! first response and less resident memory (docs/benchmarks.md, "Issue 21"). The price is
//! that the executable's own image is not randomized (its heap, stack and libraries
//! still are); a function runs alone in its micro-VM.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux {
        for bin in ["jobs-api", "jobs-events", "jobs-sweep"] {
            println!("cargo:rustc-link-arg-bin={bin}=-no-pie");
        }
    }
}
