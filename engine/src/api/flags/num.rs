//! Exact number reading for the grammar: no floats, so `nan`, `inf` and rounding never
//! get in, and every overflow is seen.

/// A decimal number `D[.D][e[+-]D]` read exactly: `mantissa * 10^exp10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decimal {
    pub mantissa: u128,
    pub exp10: i32,
}

/// Most digits a mantissa may have (u128 holds 38).
const MAX_DIGITS: usize = 36;

/// Read `D+[.D*]` or `.D+`, with an exponent when `exponent` is true. No sign, no
/// spaces. `None` when it is not such a number or has too many digits.
pub(super) fn decimal(s: &str, exponent: bool) -> Option<Decimal> {
    let (num, exp) = match s.find(['e', 'E']) {
        Some(i) if exponent => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros of the integer part and trailing zeros of the fraction carry nothing.
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.len() + frac.len() > MAX_DIGITS {
        return None;
    }
    let mut mantissa: u128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        mantissa = mantissa * 10 + u128::from(b - b'0');
    }
    let mut exp10 = -(frac.len() as i32);
    if let Some(e) = exp {
        let (neg, digits) = match e.as_bytes().first() {
            Some(b'-') => (true, &e[1..]),
            Some(b'+') => (false, &e[1..]),
            _ => (false, e),
        };
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: i32 = digits.parse().ok()?;
        exp10 += if neg { -v } else { v };
    }
    Some(Decimal { mantissa, exp10 })
}

impl Decimal {
    /// `self * mult`, rounded down to a whole number; `None` past `u128`.
    pub fn times_floor(self, mult: u128) -> Option<u128> {
        if self.mantissa == 0 {
            return Some(0);
        }
        let m = self.mantissa.checked_mul(mult)?;
        if self.exp10 >= 0 {
            m.checked_mul(10u128.checked_pow(self.exp10 as u32)?)
        } else {
            match 10u128.checked_pow((-self.exp10) as u32) {
                Some(d) => Some(m / d),
                None => Some(0),
            }
        }
    }

    /// `self * mult` when it is a whole number: `Ok(Some(n))`; `Ok(None)` past `u128`;
    /// `Err(())` when it has a fraction left.
    pub fn times_exact(self, mult: u128) -> Result<Option<u128>, ()> {
        if self.mantissa == 0 {
            return Ok(Some(0));
        }
        let Some(m) = self.mantissa.checked_mul(mult) else {
            return Ok(None);
        };
        if self.exp10 >= 0 {
            Ok(10u128
                .checked_pow(self.exp10 as u32)
                .and_then(|p| m.checked_mul(p)))
        } else {
            match 10u128.checked_pow((-self.exp10) as u32) {
                Some(d) if m % d == 0 => Ok(Some(m / d)),
                _ => Err(()),
            }
        }
    }
}

/// A whole number of decimal digits only (no sign, no spaces), as `u64`.
pub(super) fn uint(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A whole number with an optional `-` or `+` sign, as `i64`.
pub(super) fn int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        let d = |s| decimal(s, true);
        assert_eq!(
            d("1.5"),
            Some(Decimal {
                mantissa: 15,
                exp10: -1
            })
        );
        assert_eq!(d("001.500").unwrap().times_exact(10).unwrap(), Some(15));
        assert_eq!(d(".5").unwrap().times_floor(3), Some(1));
        assert_eq!(d("1e3").unwrap().times_exact(1).unwrap(), Some(1000));
        assert_eq!(d("25e-1").unwrap().times_exact(2).unwrap(), Some(5));
        assert!(d("0.3").unwrap().times_exact(1).is_err());
        for bad in [
            "", ".", "nan", "inf", "1e", "1e+", "1..2", "1.2.3", "-1", " 1", "0x10", "1e99999",
        ] {
            assert!(d(bad).is_none(), "{bad}");
        }
        assert!(decimal("1e3", false).is_none());
        assert_eq!(uint("42"), Some(42));
        assert_eq!(uint("+42"), None);
        assert_eq!(int("-1"), Some(-1));
        assert_eq!(int("- 1"), None);
        assert_eq!(int("99999999999999999999"), None);
    }
}
