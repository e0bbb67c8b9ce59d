//! Links the payload with realm-sdk's image script and a board's MEMORY file.

fn main() {
    realm_build::link_payload();
}
