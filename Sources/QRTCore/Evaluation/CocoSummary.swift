import Foundation

/// The 12 numbers of pycocotools' `COCOeval.stats` for bbox, in its order; -1 where undefined
/// (no ground truth in the selection).
public struct CocoSummary: Sendable, Equatable {
    public enum Metric: Int, CaseIterable, Sendable {
        case ap, ap50, ap75, apSmall, apMedium, apLarge, ar1, ar10, ar100, arSmall, arMedium, arLarge

        /// The short name used in tables and JSON: AP, AP50, …, ARl.
        public var name: String {
            ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"][rawValue]
        }

        var isPrecision: Bool { rawValue < 6 }
        var iouThreshold: Double? { self == .ap50 ? 0.5 : self == .ap75 ? 0.75 : nil }
        var area: String {
            switch self {
            case .apSmall, .arSmall: return "small"
            case .apMedium, .arMedium: return "medium"
            case .apLarge, .arLarge: return "large"
            default: return "all"
            }
        }
        /// Which of `maxDetections` (pycocotools' `params.maxDets[i]`).
        var maxDetectionsIndex: Int { self == .ar1 ? 0 : self == .ar10 ? 1 : 2 }

        /// pycocotools' line, e.g. `Average Precision (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]`.
        public var longName: String {
            let iou = iouThreshold.map { String(format: "%.2f", $0) } ?? "0.50:0.95"
            let maxDets = self == .ar1 ? 1 : self == .ar10 ? 10 : 100
            let kind = isPrecision ? "Average Precision  (AP)" : "Average Recall     (AR)"
            let padded = String(repeating: " ", count: max(0, 6 - area.count)) + area
            return "\(kind) @[ IoU=\(iou.padding(toLength: 9, withPad: " ", startingAt: 0)) | area=\(padded) | maxDets=\(String(format: "%3d", maxDets)) ]"
        }
    }

    /// In `Metric` order.
    public let values: [Double]

    public init(values: [Double]) {
        precondition(values.count == Metric.allCases.count, "a COCO summary has 12 numbers")
        self.values = values
    }

    public subscript(metric: Metric) -> Double { values[metric.rawValue] }

    public var ap: Double { self[.ap] }
    public var ap50: Double { self[.ap50] }
    public var ap75: Double { self[.ap75] }
    public var ar100: Double { self[.ar100] }

    /// One line per number, `AP     0.4209  Average Precision (AP) @[ … ]`.
    public func table() -> String {
        Metric.allCases.map { metric in
            let value = self[metric]
            let text = value == -1 ? "    -1" : String(format: "%6.4f", value)
            return metric.name.padding(toLength: 6, withPad: " ", startingAt: 0) + " " + text + "  " + metric.longName
        }.joined(separator: "\n")
    }

    /// `{"AP": 0.42, …}` in `Metric` order.
    public var dictionary: [(name: String, value: Double)] {
        Metric.allCases.map { ($0.name, self[$0]) }
    }
}
