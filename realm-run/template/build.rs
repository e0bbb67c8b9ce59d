//! Links the payload with realm-build's image script and a board's MEMORY file
//! (`REALM_BOARD`: `qemu-virt-realm`, the default, `fvp-realm`, or a `.ld` file of your own).

fn main() {
    realm_build::link_payload();
}
