#if canImport(Glibc)
import Glibc
#endif

/// How activation ranges are calibrated.
public enum QuantizationMethod: String, Sendable, CaseIterable, Codable {
    /// QRT-DETR: EMA-MSE ranges + two-stage reconstruction (GPTQ-style weights, block-wise clipping).
    case qrt
    case emaMSE = "ema-mse"
    case mse
    case percentile
    case emaMinMax = "ema-minmax"
    case minMax = "minmax"

    func makeObserver() -> any ActivationObserver {
        switch self {
        case .qrt, .emaMSE: return EMAMSEObserver()
        case .mse: return MSEObserver()
        case .percentile: return PercentileObserver()
        case .emaMinMax: return EMAMinMaxObserver()
        case .minMax: return MinMaxObserver()
        }
    }

    /// MinMax is the baseline all the way down; every other method searches weight scales by MSE.
    var weightSearch: WeightQuantizer.ScaleSearch {
        self == .minMax ? .minMax : .mse(gridSize: WeightQuantizer.defaultGridSize)
    }
}

/// Weight and activation bit widths, written as `w8a8`, `w6a6`, `w4a8`, `w4a4`.
public struct BitWidths: Sendable, Hashable, CustomStringConvertible {
    public let weights: Int
    public let activations: Int

    public static let supported = ["w8a8", "w6a6", "w4a8", "w4a4"]

    public init?(_ text: String) {
        guard Self.supported.contains(text.lowercased()) else { return nil }
        let digits = text.lowercased().split(whereSeparator: { $0 == "w" || $0 == "a" }).compactMap { Int($0) }
        weights = digits[0]
        activations = digits[1]
    }

    public var description: String { "w\(weights)a\(activations)" }
}

/// Everything `qrt-detr quantize` decides before calibrating.
public struct QuantizationPlan: Sendable {
    public var method: QuantizationMethod
    public var bits: BitWidths
    /// Alternations of the two QRT stages.
    public var rounds: Int
    /// Layer-name glob patterns (fnmatch: `*`, `?`, `[...]`) kept in FP32.
    public var keepFP32: [String]

    public init(method: QuantizationMethod, bits: BitWidths, rounds: Int = 2, keepFP32: [String] = []) {
        self.method = method
        self.bits = bits
        self.rounds = rounds
        self.keepFP32 = keepFP32
    }

    func keepsFP32(_ layerName: String) -> Bool {
        keepFP32.contains { fnmatch($0, layerName, 0) == 0 }
    }
}
