//! Links the payload with realm-sdk's image script and a board's MEMORY file, and builds in
//! the public key of the key broker the realm trusts (`REALM_BROKER_PUBLIC_KEY`).

fn main() {
    realm_build::link_payload();
    realm_build::embed_broker_public_key();
}
