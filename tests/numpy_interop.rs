//! `.npz` files written by numpy load here (fixtures made by tests/fixtures/make_numpy_fixture.py
//! with numpy 2.4). The other direction — numpy reading our files — is checked in CI by
//! .ci/check_npz.py on the CLI's output.

use std::path::PathBuf;

use propensity::Dataset;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

fn expected_inputs() -> ndarray::Array2<f32> {
    // np.arange(30).reshape(3, 10) / 8.0 - 1.0, exact in f32
    ndarray::Array2::from_shape_fn((3, 10), |(i, j)| (i * 10 + j) as f32 / 8.0 - 1.0)
}

#[test]
fn reads_np_savez_float64_int64() {
    let d = Dataset::load_npz(fixture("numpy_savez.npz")).unwrap();
    assert_eq!(d.inputs(), &expected_inputs());
    assert_eq!(d.targets(), &[1, 0, 1]);
}

#[test]
fn reads_np_savez_compressed_float32_int32() {
    let d = Dataset::load_npz(fixture("numpy_savez_compressed.npz")).unwrap();
    assert_eq!(d.inputs(), &expected_inputs());
    assert_eq!(d.targets(), &[1, 0, 1]);
}

#[test]
fn our_files_carry_numpy_names_and_dtypes() {
    // np.load looks for members `inputs.npy` / `targets.npy` with '<f4' / '<i8' headers
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.npz");
    Dataset::new(expected_inputs(), vec![1, 0, 1]).unwrap().save_npz(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for needle in ["inputs.npy", "targets.npy", "'descr': '<f4'", "'descr': '<i8'", "'shape': (3, 10)", "'shape': (3,)"]
    {
        assert!(text.contains(needle), "missing {needle}");
    }
}
