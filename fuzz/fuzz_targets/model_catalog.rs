//! The model catalog parser and the model-list reader: any bytes, never a panic; a catalog
//! that parses writes text that parses again.
#![no_main]

use cm_proto::model::listing::parse_model_ids;
use cm_proto::model::Catalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_model_ids(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(catalog) = Catalog::parse(text) {
        let _ = catalog.find_bare("gpt-5");
        let _ = catalog.overlay(&catalog);
        let _ = Catalog::parse(&catalog.to_json());
    }
});
