/// pycocotools' `COCOeval` for `iouType="bbox"`, re-implemented step for step.
///
/// `evaluate` is `COCOeval.evaluate()` + `accumulate()` + `summarize()`:
/// - per image and category, detections are ranked by score (stable: ties keep their order in the
///   input, as numpy's mergesort), the best `maxDetections.last` kept, and IoUs computed against
///   every ground-truth box (`CocoBox.iou`; a crowd region's union is the detection's area);
/// - per area range, ground truths that are crowd or whose `area` field lies outside the range are
///   ignored and sorted last; at each IoU threshold detections greedily take the unmatched (or
///   crowd) ground truth of highest IoU ≥ threshold, preferring non-ignored ones; a detection
///   matched to an ignored ground truth, or unmatched with a box area outside the range, is ignored;
/// - per category, area range and max-detections setting, all images' detections are ranked by
///   score together, precision is made non-increasing from the right and read at the 101 recall
///   thresholds (first rank whose recall reaches the threshold, 0 beyond the last), recall is the
///   final recall; both are -1 where the category has no non-ignored ground truth;
/// - the 12 summary numbers are means over the entries that are not -1 (-1 when there are none).
public struct CocoEvaluator: Sendable {
    public struct AreaRange: Sendable, Equatable {
        public var label: String
        public var minimum: Double
        public var maximum: Double

        public init(_ label: String, _ minimum: Double, _ maximum: Double) {
            self.label = label
            self.minimum = minimum
            self.maximum = maximum
        }

        /// Inclusive at both ends, as pycocotools.
        func excludes(_ area: Double) -> Bool { area < minimum || area > maximum }
    }

    public struct Parameters: Sendable, Equatable {
        public var iouThresholds: [Double]
        public var recallThresholds: [Double]
        /// Ascending; the last one is the number of detections per image and category considered.
        public var maxDetections: [Int]
        public var areaRanges: [AreaRange]
        /// pycocotools sets every ground truth's ignore flag from `iscrowd`, discarding an `ignore`
        /// field; true also ignores ground truths whose `ignore` field is set (not pycocotools).
        public var honorsIgnoreField: Bool

        public init(iouThresholds: [Double], recallThresholds: [Double], maxDetections: [Int],
                    areaRanges: [AreaRange], honorsIgnoreField: Bool = false) {
            self.iouThresholds = iouThresholds
            self.recallThresholds = recallThresholds
            self.maxDetections = maxDetections.sorted()
            self.areaRanges = areaRanges
            self.honorsIgnoreField = honorsIgnoreField
        }

        /// pycocotools' `Params(iouType="bbox")`.
        public static let `default` = Parameters(
            iouThresholds: linspace(0.5, 0.95, count: 10),
            recallThresholds: linspace(0, 1, count: 101),
            maxDetections: [1, 10, 100],
            areaRanges: [
                AreaRange("all", 0, 1e10), AreaRange("small", 0, 32 * 32),
                AreaRange("medium", 32 * 32, 96 * 96), AreaRange("large", 96 * 96, 1e10),
            ])

        /// numpy's `linspace(start, stop, count)`: `i * ((stop - start) / (count - 1)) + start`,
        /// the last value exactly `stop` (so 0.9 is 0.8999999999999999, as pycocotools has it).
        public static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
            guard count > 1 else { return count == 1 ? [start] : [] }
            let step = (stop - start) / Double(count - 1)
            var values = (0..<count).map { Double($0) * step + start }
            values[count - 1] = stop
            return values
        }
    }

    public let groundTruth: CocoGroundTruth
    public let parameters: Parameters

    public init(groundTruth: CocoGroundTruth, parameters: Parameters = .default) {
        self.groundTruth = groundTruth
        self.parameters = parameters
    }

    /// Scores `detections` (any order) against the ground truth. Detections of categories the
    /// ground truth does not list are left out, as pycocotools does; a detection on an image it does
    /// not list, or with a score or box that is not finite, is an error (`source` names the list).
    public func evaluate(_ detections: [CocoDetection], source: String = "<detections>")
        throws(CocoDataError) -> CocoEvaluation
    {
        let p = parameters
        let imageIDs = Array(Set(groundTruth.images.map(\.id))).sorted()
        let categoryIDs = Array(Set(groundTruth.categories.map(\.id))).sorted()
        let imageIndex = Dictionary(uniqueKeysWithValues: imageIDs.enumerated().map { ($1, $0) })
        let categoryIndex = Dictionary(uniqueKeysWithValues: categoryIDs.enumerated().map { ($1, $0) })
        let (I, K) = (imageIDs.count, categoryIDs.count)

        // _prepare: ground truths and detections by (category, image), in their input order.
        var gtsByCell: [Int: [Int]] = [:]
        for (index, annotation) in groundTruth.annotations.enumerated() {
            guard let i = imageIndex[annotation.imageID], let k = categoryIndex[annotation.categoryID] else { continue }
            gtsByCell[k * I + i, default: []].append(index)
        }
        var dtsByCell: [Int: [Int]] = [:]
        for (index, detection) in detections.enumerated() {
            guard let i = imageIndex[detection.imageID] else {
                throw CocoDataError(file: source, field: "[\(index)].image_id",
                                    "image \(detection.imageID) is not in the ground truth")
            }
            let b = detection.box
            guard detection.score.isFinite, b.x.isFinite, b.y.isFinite, b.width.isFinite, b.height.isFinite else {
                throw CocoDataError(file: source, field: "[\(index)]", "score or bbox is not finite")
            }
            guard let k = categoryIndex[detection.categoryID] else { continue }
            dtsByCell[k * I + i, default: []].append(index)
        }

        // evaluate(): per (category, area range, image).
        let T = p.iouThresholds.count
        let maxDet = p.maxDetections.last ?? 0
        // [category × area range] → (image index, result), for the cells with a ground truth or a detection.
        var cells = [[(image: Int, result: ImageCategoryResult)]](repeating: [], count: K * p.areaRanges.count)
        for cell in Set(gtsByCell.keys).union(dtsByCell.keys) {
            let (k, i) = cell.quotientAndRemainder(dividingBy: I)
            let gts = (gtsByCell[cell] ?? []).map { groundTruth.annotations[$0] }
            let dtIndices = Self.rankedByScore(dtsByCell[cell] ?? [], detections).prefix(maxDet)
            let dts = dtIndices.map { detections[$0] }
            // computeIoU: [detection][ground truth], ground truths in input order.
            let ious = dts.map { d in gts.map { CocoBox.iou(detection: d.box, groundTruth: $0.box, crowd: $0.isCrowd) } }
            for (a, range) in p.areaRanges.enumerated() {
                cells[k * p.areaRanges.count + a].append((i, matchImage(gts: gts, dts: dts, ious: ious, range: range, T: T)))
            }
        }

        // accumulate()
        let (R, A, M) = (p.recallThresholds.count, p.areaRanges.count, p.maxDetections.count)
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        for k in 0..<K {
            for a in 0..<A {
                let results = cells[k * A + a].sorted { $0.image < $1.image }.map(\.result)
                if results.isEmpty { continue }
                let groundTruthCount = results.reduce(0) { $0 + $1.notIgnoredGroundTruths }
                if groundTruthCount == 0 { continue }
                for (m, limit) in p.maxDetections.enumerated() {
                    let curves = Self.precisionRecall(results, limit: limit, groundTruthCount: groundTruthCount,
                                                      thresholds: p.recallThresholds, T: T)
                    for t in 0..<T {
                        recall[((t * K + k) * A + a) * M + m] = curves[t].recall
                        for r in 0..<R {
                            precision[(((t * R + r) * K + k) * A + a) * M + m] = curves[t].precision[r]
                        }
                    }
                }
            }
        }
        return CocoEvaluation(parameters: p, imageIDs: imageIDs, categoryIDs: categoryIDs,
                              precision: precision, recall: recall)
    }

    /// Indices ordered by descending score, ties in input order (numpy `argsort(-s, kind='mergesort')`).
    static func rankedByScore(_ indices: [Int], _ detections: [CocoDetection]) -> [Int] {
        indices.enumerated().sorted { l, r in
            let (a, b) = (detections[l.element].score, detections[r.element].score)
            return a > b || (a == b && l.offset < r.offset)
        }.map(\.element)
    }

    /// `evaluateImg` for one image, category and area range: which detections (score order) match a
    /// ground truth at each IoU threshold, and which are ignored.
    func matchImage(gts: [CocoGroundTruth.Annotation], dts: [CocoDetection], ious: [[Double]],
                    range: AreaRange, T: Int) -> ImageCategoryResult {
        let ignoredByFlag = gts.map { $0.isCrowd || (parameters.honorsIgnoreField && $0.ignore) }
        let gtIgnoreInput = gts.indices.map { ignoredByFlag[$0] || range.excludes(gts[$0].area) }
        // Not-ignored ground truths first, each group in input order (a stable sort on the flag).
        let order = gts.indices.filter { !gtIgnoreInput[$0] } + gts.indices.filter { gtIgnoreInput[$0] }
        let gtIgnore = order.map { gtIgnoreInput[$0] }
        let crowd = order.map { gts[$0].isCrowd }
        let (G, D) = (gts.count, dts.count)
        var gtMatched = [Bool](repeating: false, count: T * G)
        var dtMatch = [Int](repeating: 0, count: T * D)  // the matched ground truth's id, 0 for none
        var dtIgnore = [Bool](repeating: false, count: T * D)
        if G > 0 && D > 0 {
            for (t, threshold) in parameters.iouThresholds.enumerated() {
                for d in 0..<D {
                    var best = min(threshold, 1 - 1e-10)
                    var m = -1
                    for g in 0..<G {
                        // A matched ground truth is taken, unless it is a crowd region.
                        if gtMatched[t * G + g] && !crowd[g] { continue }
                        // Matched to a real ground truth and only ignored ones left: stop.
                        if m > -1 && !gtIgnore[m] && gtIgnore[g] { break }
                        let iou = ious[d][order[g]]
                        if iou < best { continue }
                        best = iou
                        m = g
                    }
                    if m == -1 { continue }
                    dtIgnore[t * D + d] = gtIgnore[m]
                    dtMatch[t * D + d] = gts[order[m]].id
                    gtMatched[t * G + m] = true
                }
            }
        }
        // Unmatched detections outside the area range are ignored. As in pycocotools, "matched"
        // means a non-zero ground-truth id.
        for d in 0..<D where range.excludes(dts[d].box.area) {
            for t in 0..<T where dtMatch[t * D + d] == 0 { dtIgnore[t * D + d] = true }
        }
        return ImageCategoryResult(
            scores: dts.map(\.score), matched: dtMatch.map { $0 != 0 }, ignored: dtIgnore,
            notIgnoredGroundTruths: gtIgnore.count { !$0 })
    }

    /// `accumulate` for one category, area range and max-detections limit: the interpolated
    /// precision at each recall threshold and the final recall, per IoU threshold.
    static func precisionRecall(_ results: [ImageCategoryResult], limit: Int, groundTruthCount: Int,
                                thresholds: [Double], T: Int) -> [(precision: [Double], recall: Double)] {
        // Images in id order, each one's best `limit`, then all ranked together (stable).
        var scores: [Double] = []
        var origin: [(result: Int, d: Int)] = []
        for (e, result) in results.enumerated() {
            for d in 0..<min(limit, result.scores.count) {
                scores.append(result.scores[d])
                origin.append((e, d))
            }
        }
        let ranked = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        let nd = ranked.count
        let npig = Double(groundTruthCount)
        var curves: [(precision: [Double], recall: Double)] = []
        for t in 0..<T {
            var rc = [Double](repeating: 0, count: nd)
            var pr = [Double](repeating: 0, count: nd)
            var (tp, fp) = (0.0, 0.0)
            for (n, index) in ranked.enumerated() {
                let (e, d) = origin[index]
                let result = results[e]
                let D = result.scores.count
                if !result.ignored[t * D + d] {
                    if result.matched[t * D + d] { tp += 1 } else { fp += 1 }
                }
                rc[n] = tp / npig
                pr[n] = tp / (fp + tp + Double.ulpOfOne)
            }
            // Precision envelope: non-increasing from the right.
            if nd > 1 {
                for n in stride(from: nd - 1, to: 0, by: -1) where pr[n] > pr[n - 1] { pr[n - 1] = pr[n] }
            }
            // numpy searchsorted(rc, thresholds, side='left'); past the end stays 0.
            // pycocotools stops at the first threshold past the end (its try/except).
            var q = [Double](repeating: 0, count: thresholds.count)
            for (r, threshold) in thresholds.enumerated() {
                var (low, high) = (0, nd)
                while low < high {
                    let mid = (low + high) / 2
                    if rc[mid] < threshold { low = mid + 1 } else { high = mid }
                }
                if low == nd { break }
                q[r] = pr[low]
            }
            curves.append((q, nd > 0 ? rc[nd - 1] : 0))
        }
        return curves
    }
}

/// What `evaluateImg` keeps for one image, category and area range.
struct ImageCategoryResult: Sendable {
    /// Detection scores, best first (at most `maxDetections.last`).
    var scores: [Double]
    /// [threshold][detection]: matched to a ground truth.
    var matched: [Bool]
    /// [threshold][detection]: left out of the counts.
    var ignored: [Bool]
    var notIgnoredGroundTruths: Int
}
