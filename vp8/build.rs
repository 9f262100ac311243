//! Links the system's libvpx (Debian: `libvpx-dev`, installed by `scripts/test.sh`).

fn main() {
    println!("cargo:rerun-if-env-changed=VPX_LIB_DIR");
    if let Ok(dir) = std::env::var("VPX_LIB_DIR") {
        println!("cargo:rustc-link-search=native={dir}");
    }
    println!("cargo:rustc-link-lib=vpx");
}
