/// The element types of the safetensors format, spelled as in the file's header.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f8e4m3 = "F8_E4M3"
    case f8e5m2 = "F8_E5M2"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: return true
        default: return false
        }
    }
}

/// Scalar element conversions, all exact except where a wider type must round to Float
/// (F64, and integers beyond 2^24).
enum SafeTensorsScalar {
    /// IEEE half → Float, exact (every half is a float).
    @inline(__always) static func f16(_ bits: UInt16) -> Float {
        #if arch(x86_64) || arch(arm64)
        return Float(Float16(bitPattern: bits))
        #else
        return f16Reference(bits)
        #endif
    }

    /// Bit-level half → Float, the reference the fast path is tested against.
    static func f16Reference(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F {  // inf / NaN: keep the payload
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // zero or subnormal: mantissa × 2^-24, exact in Float
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// bfloat16 is the upper half of a float32.
    @inline(__always) static func bf16(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// OCP FP8 E5M2: the upper byte of an IEEE half.
    @inline(__always) static func f8e5m2(_ bits: UInt8) -> Float {
        f16Reference(UInt16(bits) << 8)
    }

    /// OCP FP8 E4M3 (the "FN" variant torch.float8_e4m3fn stores): bias 7, no infinities,
    /// S.1111.111 is NaN.
    static func f8e4m3(_ bits: UInt8) -> Float {
        let negative = bits & 0x80 != 0
        let exponent = Int(bits >> 3) & 0x0F
        let mantissa = Int(bits & 0x07)
        let magnitude: Float
        if exponent == 0x0F && mantissa == 0x07 {
            return .nan
        } else if exponent == 0 {
            magnitude = Float(mantissa) * Float(sign: .plus, exponent: -9, significand: 1)
        } else {
            magnitude = Float(8 + mantissa) * Float(sign: .plus, exponent: exponent - 7 - 3, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }
}
