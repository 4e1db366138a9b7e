/// The result of `CocoEvaluator.evaluate`: pycocotools' `eval["precision"]` and `eval["recall"]`,
/// and the 12 summary numbers.
public struct CocoEvaluation: Sendable {
    public let parameters: CocoEvaluator.Parameters
    /// The images and categories evaluated, ascending (pycocotools' `params.imgIds`, `catIds`).
    public let imageIDs: [Int]
    public let categoryIDs: [Int]
    /// [T][R][K][A][M] flattened, -1 where a category has no non-ignored ground truth.
    public let precision: [Double]
    /// [T][K][A][M] flattened, -1 where a category has no non-ignored ground truth.
    public let recall: [Double]
    public let summary: CocoSummary

    init(parameters: CocoEvaluator.Parameters, imageIDs: [Int], categoryIDs: [Int], precision: [Double],
         recall: [Double]) {
        self.parameters = parameters
        self.imageIDs = imageIDs
        self.categoryIDs = categoryIDs
        self.precision = precision
        self.recall = recall
        summary = CocoSummary(values: CocoSummary.Metric.allCases.map {
            Self.summarize($0, parameters: parameters, categories: categoryIDs.count, precision: precision, recall: recall)
        })
    }

    public func precision(iou t: Int, recall r: Int, category k: Int, area a: Int, maxDetections m: Int) -> Double {
        let (R, K, A, M) = (parameters.recallThresholds.count, categoryIDs.count, parameters.areaRanges.count,
                            parameters.maxDetections.count)
        return precision[(((t * R + r) * K + k) * A + a) * M + m]
    }

    public func recall(iou t: Int, category k: Int, area a: Int, maxDetections m: Int) -> Double {
        let (K, A, M) = (categoryIDs.count, parameters.areaRanges.count, parameters.maxDetections.count)
        return recall[((t * K + k) * A + a) * M + m]
    }

    /// One category's AP over all areas with up to 100 detections per image: averaged over the IoU
    /// thresholds, or at `iouThreshold` (0.5 for AP50); -1 when the category has no ground truth.
    /// `category` indexes `categoryIDs`.
    public func categoryAP(_ category: Int, iouThreshold: Double? = nil) -> Double {
        let p = parameters
        let thresholds = iouThreshold.map { value in p.iouThresholds.indices.filter { abs(p.iouThresholds[$0] - value) < 1e-9 } }
            ?? Array(p.iouThresholds.indices)
        guard let area = p.areaRanges.firstIndex(where: { $0.label == "all" }),
              let limit = p.maxDetections.firstIndex(of: 100) else { return -1 }
        var (sum, count) = (0.0, 0)
        for t in thresholds {
            for r in p.recallThresholds.indices {
                let value = precision(iou: t, recall: r, category: category, area: area, maxDetections: limit)
                if value > -1 { sum += value; count += 1 }
            }
        }
        return count == 0 ? -1 : sum / Double(count)
    }

    /// `COCOeval.summarize()._summarize`: the mean of the selected entries that are not -1.
    static func summarize(_ metric: CocoSummary.Metric, parameters p: CocoEvaluator.Parameters, categories K: Int,
                          precision: [Double], recall: [Double]) -> Double {
        let (T, R, A, M) = (p.iouThresholds.count, p.recallThresholds.count, p.areaRanges.count, p.maxDetections.count)
        let thresholds = metric.iouThreshold.map { value in p.iouThresholds.indices.filter { p.iouThresholds[$0] == value } }
            ?? Array(0..<T)
        let areas = p.areaRanges.indices.filter { p.areaRanges[$0].label == metric.area }
        // pycocotools asks for maxDets 100 literally for AP, and params.maxDets[0|1|2] for the rest.
        let wanted: Int? = metric == .ap ? 100
            : metric.maxDetectionsIndex < M ? p.maxDetections[metric.maxDetectionsIndex] : nil
        let limits = p.maxDetections.indices.filter { p.maxDetections[$0] == wanted }
        var (sum, count) = (0.0, 0)
        for t in thresholds {
            for k in 0..<K {
                for a in areas {
                    for m in limits {
                        if metric.isPrecision {
                            for r in 0..<R {
                                let value = precision[(((t * R + r) * K + k) * A + a) * M + m]
                                if value > -1 { sum += value; count += 1 }
                            }
                        } else {
                            let value = recall[((t * K + k) * A + a) * M + m]
                            if value > -1 { sum += value; count += 1 }
                        }
                    }
                }
            }
        }
        return count == 0 ? -1 : sum / Double(count)
    }
}
