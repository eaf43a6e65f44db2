//! Reading numbers from text fields: the common case without the general parser.

/// Powers of ten that `f64` holds exactly.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of a plain decimal field (`[-]digits[.digits]`, at most 15 digits), or `None` for anything else
/// (exponents, `inf`, spaces, longer numbers), which the caller hands to `str::parse`.
///
/// Flow records are mostly short integers and short decimals: `m / 10^k` with both exact in `f64` is the
/// correctly rounded value (one IEEE division), so this returns the bits `str::parse::<f64>` returns, without
/// its UTF-8 check and general algorithm.
pub(crate) fn plain_decimal(s: &[u8]) -> Option<f64> {
    let (negative, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if body.is_empty() || body.len() > 16 {
        return None;
    }
    let (mut mantissa, mut digits, mut point) = (0u64, 0usize, None);
    for (i, &b) in body.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
            }
            // A digit on both sides of the point, as every writer of flow records puts them.
            b'.' if point.is_none() && i > 0 && i + 1 < body.len() => point = Some(i),
            _ => return None,
        }
    }
    if digits > 15 {
        return None;
    }
    let decimals = point.map_or(0, |p| body.len() - p - 1);
    let v = mantissa as f64 / POW10[decimals];
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn same_as_std(s: &str) {
        let std = s.parse::<f64>().ok();
        if let Some(v) = plain_decimal(s.as_bytes()) {
            assert_eq!(Some(v.to_bits()), std.map(f64::to_bits), "{s:?}");
        }
    }

    #[test]
    fn plain_decimals_read_as_the_standard_parser_reads_them() {
        for s in [
            "0",
            "-0",
            "00",
            "7.178",
            "356.0",
            "4294951",
            "0.1",
            "0.3",
            "-2.5",
            "999999999999999",
            "123456789.123456",
            "9007199254740993",
            "1e5",
            "inf",
            "NaN",
            "",
            "-",
            ".",
            "5.",
            ".5",
            "1.2.3",
            " 1",
            "1 ",
            "+1",
            "--1",
            "0x10",
            "1_000",
        ] {
            same_as_std(s);
        }
        assert_eq!(plain_decimal(b"7.178"), Some(7.178));
        assert_eq!(
            plain_decimal(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        // Not plain: left to the general parser.
        for s in [
            "",
            "-",
            "5.",
            ".5",
            "1e5",
            "inf",
            "1234567890123456",
            " 1",
            "+1",
        ] {
            assert_eq!(plain_decimal(s.as_bytes()), None, "{s:?}");
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200_000 {
            let width = rng.gen_range(1..16);
            let int: u64 = rng.gen_range(0..10u64.pow(width));
            let s = match rng.gen_range(0..3) {
                0 => int.to_string(),
                1 => {
                    let s = int.to_string();
                    let cut = rng.gen_range(0..s.len());
                    if cut == 0 {
                        s
                    } else {
                        format!("{}.{}", &s[..cut], &s[cut..])
                    }
                }
                _ => format!("-{}.{:0>3}", int % 100_000, rng.gen_range(0..1000)),
            };
            assert!(plain_decimal(s.as_bytes()).is_some(), "{s}");
            same_as_std(&s);
        }
    }
}
