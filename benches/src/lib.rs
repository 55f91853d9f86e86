//! Benchmarks of the MegaBot webhook SDK (`benches/*.rs`, run with `bash benches/run.sh`)
//! and the checks the fuzz targets run (`../fuzz`), shared with the corpus replay tests.

pub mod fuzz;
