//! Every byte the host hands the realm is hostile: models, containers and disk headers that
//! lie get a typed error with a sentence, never a panic.

use realm_inference::container::{self, ContainerError, HEADER_SIZE, RECIPIENT_SIZE, TAG_SIZE};
use realm_inference::disk::{DiskError, Header, SECTOR_SIZE};
use realm_inference::model::{MAX_WIDTH, Model, ModelError};

const MODEL: &[u8] = include_bytes!("../data/digits/model.qmlp");

/// Every truncation of the model is refused, as is every extension.
#[test]
fn truncated_and_extended_models_are_refused() {
    for n in 0..MODEL.len() {
        let e = Model::parse(&MODEL[..n]).unwrap_err();
        assert!(
            matches!(e, ModelError::Truncated { got, .. } if got == n),
            "{n}: {e}"
        );
        assert!(!e.to_string().is_empty());
    }
    let mut longer = MODEL.to_vec();
    longer.push(0);
    assert_eq!(
        Model::parse(&longer).unwrap_err(),
        ModelError::TrailingBytes {
            expected: MODEL.len(),
            got: MODEL.len() + 1
        }
    );
}

fn patched(at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut m = MODEL.to_vec();
    m[at..at + bytes.len()].copy_from_slice(bytes);
    m
}

/// Headers that lie about the shapes, kinds and arithmetic, each with its error.
#[test]
fn lying_headers_are_refused() {
    // Layer records start at 8; layer 1's at 24.
    let cases: Vec<(Vec<u8>, ModelError)> = vec![
        (patched(0, b"QMLQ"), ModelError::Magic),
        (patched(4, &2u16.to_le_bytes()), ModelError::Version(2)),
        (patched(6, &0u16.to_le_bytes()), ModelError::LayerCount(0)),
        (patched(6, &9u16.to_le_bytes()), ModelError::LayerCount(9)),
        (
            patched(8, &0u16.to_le_bytes()),
            ModelError::Width {
                layer: 0,
                inputs: 0,
                outputs: 32,
            },
        ),
        (
            patched(10, &(MAX_WIDTH as u16 + 1).to_le_bytes()),
            ModelError::Width {
                layer: 0,
                inputs: 64,
                outputs: 513,
            },
        ),
        (
            patched(24, &31u16.to_le_bytes()),
            ModelError::Chain {
                layer: 1,
                inputs: 31,
                previous: 32,
            },
        ),
        (patched(12, &[0]), ModelError::Kind { layer: 0, kind: 0 }),
        (patched(28, &[1]), ModelError::Kind { layer: 1, kind: 1 }),
        (patched(12, &[7]), ModelError::Kind { layer: 0, kind: 7 }),
        (patched(14, &[1]), ModelError::Reserved { layer: 0 }),
        (
            patched(29, &[3]),
            ModelError::Requantisation {
                layer: 1,
                multiplier: 0,
                shift: 3,
            },
        ),
        // A huge announced width, made to chain: still bounded, then truncated.
        (
            {
                let mut m = patched(10, &512u16.to_le_bytes());
                m[24..26].copy_from_slice(&512u16.to_le_bytes());
                m
            },
            ModelError::Truncated {
                needed: 8 + 32 + 512 * 64 + 4 * 512 + 10 * 512 + 40,
                got: MODEL.len(),
            },
        ),
    ];
    for (bytes, expected) in cases {
        let e = Model::parse(&bytes).unwrap_err();
        assert_eq!(e, expected, "{e}");
        assert!(!e.to_string().contains("{"), "{e}");
    }
    // The shift of layer 0 out of range: 0 and 63.
    let shift = MODEL[13];
    for bad in [0u8, 63] {
        let e = Model::parse(&patched(13, &[bad])).unwrap_err();
        assert!(
            matches!(e, ModelError::Requantisation { layer: 0, shift, .. } if shift == bad),
            "{e}"
        );
    }
    assert!((1..=62).contains(&shift));
    // A bias over the limit: the first bias of layer 0 follows its 32 × 64 weights.
    let at = 8 + 32 + 32 * 64;
    let e = Model::parse(&patched(at, &(1i32 << 30 | 1).to_le_bytes())).unwrap_err();
    assert_eq!(
        e,
        ModelError::Bias {
            layer: 0,
            output: 0,
            bias: (1 << 30) | 1
        }
    );
    let e = Model::parse(&patched(at, &i32::MIN.to_le_bytes())).unwrap_err();
    assert!(matches!(e, ModelError::Bias { .. }), "{e}");
}

/// Random bytes and random single-byte changes never panic the parser, and whatever
/// parses classifies without panicking (extreme weights and biases stay in range).
#[test]
fn random_models_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut logits = [0i32; 10];
    for _ in 0..20_000 {
        let mut m = MODEL.to_vec();
        for _ in 0..1 + next() % 4 {
            let i = (next() % m.len() as u64) as usize;
            m[i] = next() as u8;
        }
        if let Ok(model) = Model::parse(&m) {
            let mut input = [0u8; 64];
            input.iter_mut().for_each(|b| *b = next() as u8);
            if model.input_len() == 64 && model.classes() == 10 {
                model.classify(&input, &mut logits).unwrap();
            }
        }
    }
    for len in 0..64 {
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = Model::parse(&bytes);
    }
    // Extreme values: every weight -128, every input -128, biases at the limit.
    let mut m = MODEL.to_vec();
    let (w0, b0) = (8 + 32, 8 + 32 + 32 * 64);
    m[w0..b0].fill(0x80);
    for b in m[b0..b0 + 4 * 32].chunks_exact_mut(4) {
        b.copy_from_slice(&(1i32 << 30).to_le_bytes());
    }
    let model = Model::parse(&m).unwrap();
    model.classify(&[0x80; 64], &mut logits).unwrap();
}

const KEY: [u8; 32] = [0x5a; 32];
const OTHER_KEY: [u8; 32] = [0x5b; 32];

/// A deterministic generator for the tests' data keys and nonces.
fn counter() -> impl FnMut(&mut [u8]) {
    let mut n = 0u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(1);
            *b = n;
        }
    }
}

fn sealed_for(recipients: &[&[u8; 32]]) -> (Vec<u8>, [u8; 16]) {
    let id = container::model_id("digits-mlp");
    let mut out = vec![0u8; MODEL.len() + HEADER_SIZE + TAG_SIZE + 8 * RECIPIENT_SIZE];
    let c = container::seal(recipients, &id, 3, MODEL, &mut counter(), &mut out)
        .unwrap()
        .to_vec();
    (c, id)
}

fn sealed() -> (Vec<u8>, [u8; 16]) {
    sealed_for(&[&KEY])
}

#[test]
fn the_container_round_trips_for_each_recipient() {
    let (c, id) = sealed_for(&[&OTHER_KEY, &KEY]);
    for key in [&KEY, &OTHER_KEY] {
        let mut c = c.clone();
        let (h, plain) = container::open(key, &id, &mut c).unwrap();
        assert_eq!(plain, MODEL);
        assert_eq!((h.model_version, h.len, h.recipients), (3, MODEL.len(), 2));
    }
}

/// Another key (another realm image), any changed byte, another ID, a lying length: each
/// refused with its reason.
#[test]
fn tampered_containers_are_refused() {
    let (c, id) = sealed();
    let body = HEADER_SIZE + RECIPIENT_SIZE;
    let mut other = c.clone();
    assert_eq!(
        container::open(&OTHER_KEY, &id, &mut other).unwrap_err(),
        ContainerError::NotARecipient
    );
    // Every byte of the header, the recipient and the model is authenticated (the key ID is
    // how the recipient is found, the model ID is checked first).
    for at in (0..c.len()).filter(|at| !(28..32).contains(at)) {
        let mut t = c.clone();
        t[at] ^= 1;
        let e = container::open(&KEY, &id, &mut t).unwrap_err();
        let expected = match at {
            8..24 => ContainerError::ModelId {
                found: {
                    let mut f = id;
                    f[at - 8] ^= 1;
                    f
                },
            },
            0..4 => ContainerError::Magic,
            4 => ContainerError::Version(0),
            5 => ContainerError::Recipients(0),
            6 | 7 | 44..48 => ContainerError::Reserved,
            48..56 => ContainerError::NotARecipient,
            _ => ContainerError::Tampered,
        };
        assert_eq!(e, expected, "byte {at}");
        if at >= body && e == ContainerError::Tampered {
            // A failed open wipes the ciphertext it decrypted in place.
            assert!(
                t[body..body + MODEL.len()].iter().all(|&b| b == 0),
                "byte {at}"
            );
        }
    }
    let mut t = c.clone();
    assert_eq!(
        container::open(&KEY, &container::model_id("other"), &mut t)
            .unwrap_err()
            .to_string(),
        "the container holds model \"digits-mlp\", not the one expected"
    );
    let mut t = c.clone();
    t[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        container::open(&KEY, &id, &mut t).unwrap_err(),
        ContainerError::TooLong(u32::MAX)
    );
    let mut t = c.clone();
    t[28..32].copy_from_slice(&((MODEL.len() + 1) as u32).to_le_bytes());
    assert!(matches!(
        container::open(&KEY, &id, &mut t).unwrap_err(),
        ContainerError::Truncated { .. }
    ));
    let mut t = c.clone();
    t[28..32].copy_from_slice(&((MODEL.len() - 1) as u32).to_le_bytes());
    assert!(matches!(
        container::open(&KEY, &id, &mut t).unwrap_err(),
        ContainerError::TrailingBytes { .. }
    ));
    for n in 0..body + TAG_SIZE {
        let mut t = c[..n].to_vec();
        assert!(matches!(
            container::open(&KEY, &id, &mut t).unwrap_err(),
            ContainerError::Truncated { .. }
                | ContainerError::Magic
                | ContainerError::Version(_)
                | ContainerError::Recipients(_)
        ));
    }
    for (at, value, e) in [
        (0, b'X', ContainerError::Magic),
        (4, 2, ContainerError::Version(2)),
        (5, 0, ContainerError::Recipients(0)),
        (5, 9, ContainerError::Recipients(9)),
        (6, 1, ContainerError::Reserved),
        (44, 1, ContainerError::Reserved),
    ] {
        let mut t = c.clone();
        t[at] = value;
        assert_eq!(
            container::open(&KEY, &id, &mut t).unwrap_err(),
            e,
            "byte {at}"
        );
    }
    // A second recipient record claimed but absent: truncated, never read past the end.
    let mut t = c.clone();
    t[5] = 2;
    assert!(matches!(
        container::open(&KEY, &id, &mut t).unwrap_err(),
        ContainerError::Truncated { .. }
    ));
    // Sealing refuses no recipient and too many.
    let mut out = vec![0u8; 1 << 16];
    let id = container::model_id("m");
    assert_eq!(
        container::seal(&[], &id, 1, MODEL, &mut counter(), &mut out).unwrap_err(),
        ContainerError::Recipients(0)
    );
    assert_eq!(
        container::seal(&[&KEY; 9], &id, 1, MODEL, &mut counter(), &mut out).unwrap_err(),
        ContainerError::Recipients(9)
    );
}

fn header() -> Header {
    Header {
        model_offset: 512,
        model_len: 2640,
        inputs_offset: 3584,
        input_len: 64,
        input_count: 450,
        batch_size: 50,
        nonce: [7; 32],
    }
}

#[test]
fn the_disk_header_round_trips_and_batches() {
    let h = header();
    let capacity = 3584 + 450 * 64;
    assert_eq!(Header::parse(&h.encode(), capacity).unwrap(), h);
    assert_eq!(h.batches(), 9);
    assert_eq!(h.batch(0), Some((3584, 50 * 64)));
    assert_eq!(h.batch(8), Some((3584 + 400 * 64, 50 * 64)));
    assert_eq!(h.batch(9), None);
    assert_eq!(h.batch(usize::MAX), None);
    let short = Header {
        input_count: 451,
        ..h
    };
    assert_eq!(short.batch(9), Some((3584 + 450 * 64, 64)));
}

/// Headers that lie about where things are or how many there are.
#[test]
fn lying_disk_headers_are_refused() {
    let h = header();
    let cap = 3584 + 450 * 64;
    let parse = |h: Header| Header::parse(&h.encode(), cap);
    assert_eq!(
        Header::parse(&h.encode(), 511).unwrap_err(),
        DiskError::TooSmall(511)
    );
    assert_eq!(
        parse(Header {
            model_offset: 0,
            ..h
        })
        .unwrap_err(),
        DiskError::Alignment {
            region: "model",
            offset: 0
        }
    );
    assert_eq!(
        parse(Header {
            inputs_offset: 3585,
            ..h
        })
        .unwrap_err(),
        DiskError::Alignment {
            region: "inputs",
            offset: 3585
        }
    );
    assert_eq!(
        parse(Header {
            model_offset: u64::MAX - 511,
            ..h
        })
        .unwrap_err(),
        DiskError::PastEnd {
            region: "model",
            end: u64::MAX,
            capacity: cap
        }
    );
    assert_eq!(
        parse(Header {
            input_count: 451,
            ..h
        })
        .unwrap_err(),
        DiskError::PastEnd {
            region: "inputs",
            end: cap + 64,
            capacity: cap
        }
    );
    assert_eq!(
        parse(Header {
            inputs_offset: 1024,
            ..h
        })
        .unwrap_err(),
        DiskError::Overlap
    );
    assert!(matches!(
        parse(Header { batch_size: 0, ..h }).unwrap_err(),
        DiskError::Field {
            field: "batch size",
            ..
        }
    ));
    assert!(matches!(
        parse(Header {
            batch_size: 257,
            ..h
        })
        .unwrap_err(),
        DiskError::Field {
            field: "batch size",
            ..
        }
    ));
    assert!(matches!(
        parse(Header { input_len: 0, ..h }).unwrap_err(),
        DiskError::Field {
            field: "input length",
            ..
        }
    ));
    assert!(matches!(
        parse(Header { model_len: 0, ..h }).unwrap_err(),
        DiskError::Field {
            field: "model length",
            ..
        }
    ));
    assert!(matches!(
        parse(Header {
            input_count: 0,
            ..h
        })
        .unwrap_err(),
        DiskError::Field {
            field: "input count",
            ..
        }
    ));
    let mut s = h.encode();
    s[0] = b'X';
    assert_eq!(Header::parse(&s, cap).unwrap_err(), DiskError::Magic);
    let mut s = h.encode();
    s[4] = 9;
    assert_eq!(Header::parse(&s, cap).unwrap_err(), DiskError::Version(9));
    for at in [6, 7, 44, 47, 80, 511] {
        let mut s = h.encode();
        s[at] = 1;
        assert_eq!(Header::parse(&s, cap).unwrap_err(), DiskError::Reserved(at));
    }
    // Every message is a sentence without Debug quoting.
    let e = parse(Header {
        inputs_offset: 1024,
        ..h
    })
    .unwrap_err();
    assert_eq!(e.to_string(), "the disk's model and inputs overlap");
    // Random sectors never panic.
    let mut x = 1u64;
    for _ in 0..5000 {
        let mut s = h.encode();
        for _ in 0..3 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s[(x >> 33) as usize % SECTOR_SIZE] = (x >> 20) as u8;
        }
        if let Ok(p) = Header::parse(&s, cap) {
            for i in 0..p.batches() {
                let (off, len) = p.batch(i).unwrap();
                assert!(off + len as u64 <= cap);
            }
        }
    }
}

#[cfg(feature = "alloc")]
#[test]
fn the_builder_lays_out_a_valid_image() {
    let (c, _) = sealed();
    let inputs = include_bytes!("../data/digits/inputs.bin");
    let image = realm_inference::disk::build(&[3; 32], &c, inputs, 64, 50).unwrap();
    let sector: [u8; SECTOR_SIZE] = image[..SECTOR_SIZE].try_into().unwrap();
    let h = Header::parse(&sector, image.len() as u64).unwrap();
    assert_eq!(&image[h.model_offset as usize..][..h.model_len], &c[..]);
    let (off, len) = h.batch(0).unwrap();
    assert_eq!(&image[off as usize..][..len], &inputs[..len]);
    assert_eq!(image.len() % SECTOR_SIZE, 0);
    assert!(realm_inference::disk::build(&[3; 32], &c, &inputs[..65], 64, 50).is_err());
}
