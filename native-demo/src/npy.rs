//! Writing `.npy` files (NumPy format 1.0) by hand: the format is a fixed
//! magic, a Python-dict header padded to 64 bytes, then the raw data, and
//! writing it directly keeps the output byte-for-byte what `numpy.save` makes.

/// A little-endian float32 array of `shape` in C order.
pub fn f32_npy(data: &[f32], shape: &[usize]) -> Vec<u8> {
    assert_eq!(
        shape.iter().product::<usize>(),
        data.len(),
        "npy: shape does not match the data"
    );
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_with_npyz() {
        let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        let bytes = f32_npy(&data, &[2, 3]);
        assert_eq!((bytes.len() - 24) % 64, 0, "header is 64-byte aligned");
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(npy.shape(), &[2, 3]);
        assert_eq!(npy.order(), npyz::Order::C);
        assert_eq!(npy.into_vec::<f32>().unwrap(), data);
    }

    #[test]
    fn exact_numpy_header() {
        // numpy.save(f, np.zeros((224, 224), np.float32)) header, as NumPy 2 writes it.
        let bytes = f32_npy(&vec![0.0; 224 * 224], &[224, 224]);
        let header = std::str::from_utf8(&bytes[10..128]).unwrap();
        assert!(
            header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (224, 224), }")
        );
        assert!(header.ends_with(" \n"));
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 118);
    }
}
