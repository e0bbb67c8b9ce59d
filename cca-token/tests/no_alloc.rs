//! Parsing and verifying a token allocates nothing: a counting global allocator sees zero
//! allocations on this thread for `Token::parse` + `Token::verify` of real tokens.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cca_token::{Policy, Token};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts calls made on a thread that asked.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn parse_and_verify_do_not_allocate() {
    let (Some(t1), Some(t2), Some(ta)) = (
        testdata::read("veraison/cca-token-01.cbor"),
        testdata::read("tf-rmm/tf-rmm-v0.8.0/sha512/token.cbor"),
        testdata::read_to_string("veraison/ta-tfa.json"),
    ) else {
        return;
    };
    let anchors = cca_token::anchors::from_json(&ta).unwrap();
    COUNTING.with(|c| c.set(true));
    let ok1 = Token::parse(&t1).map(|t| t.verify(anchors.as_slice(), &Policy::default()).map(drop));
    let ok2 = Token::parse(&t2).map(|t| t.verify(anchors.as_slice(), &Policy::default()).map(drop));
    COUNTING.with(|c| c.set(false));
    assert_eq!(ok1, Ok(Ok(())));
    assert_eq!(ok2, Ok(Ok(())));
    assert_eq!(
        COUNT.with(Cell::get),
        0,
        "allocations during parse + verify"
    );
}
