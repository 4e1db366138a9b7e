import Decode
import Foundation
import QRTCore

/// `qrt-detr eval`: COCO box AP of a model on annotated images (pycocotools' 12 numbers), and with
/// `--against-fp32` the FP-agreement AP: the model's detections scored against a reference model's
/// confident detections taken as ground truth, which measures quantization damage without labels.
enum EvalCommand {
    static let help = """
        usage: qrt-detr eval [--model DIR] --coco instances.json --images DIR [--size N] [--threads N] [--score 0.0]
                             [--limit N] [--json] [--results FILE]
                             [--against-fp32 [--reference-model DIR] [--reference-score 0.5]]

          --model DIR             the model to evaluate (checkpoint directory or .qrt; default: the bundled model)
          --coco FILE             COCO ground truth (instances.json: images, annotations with bbox/area/iscrowd, categories)
          --images DIR            the directory holding the images' file_name
          --size N                square input size, a multiple of 32 (default: the model's recorded size, else 640)
          --threads N             compute threads (default: all cores)
          --score X               minimum score of a kept detection (default 0.0; low thresholds matter for AP)
          --limit N               evaluate only the first N images of the file
          --json                  print one JSON object instead of tables
          --results FILE          also write the detections as a COCO results file (for pycocotools)
          --against-fp32          also score the detections against the reference model's confident detections
                                  taken as ground truth (FP-agreement AP)
          --reference-model DIR   the reference for --against-fp32 (default: --model)
          --reference-score X     minimum score of a reference detection taken as ground truth (default 0.5)

        Up to \(maxDetectionsPerImage) detections per image are kept, best first, as COCO evaluation counts them.
        """

    static let maxDetectionsPerImage = 100

    static func run(_ commandLine: [String]) throws -> Int32 {
        if commandLine.contains("--help") { print(help); return 0 }
        let arguments = try Arguments(
            commandLine, valued: ModelOptions.valued.union(["coco", "images", "score", "limit", "results", "reference-model",
                                                        "reference-score"]),
            flags: ["json", "against-fp32"])
        let options = try ModelOptions(arguments)
        let cocoPath = try arguments.required("coco")
        let imageDirectory = URL(fileURLWithPath: try arguments.required("images"))
        let score = try arguments.float("score", default: 0, range: 0...1)
        let limit = try arguments.int("limit", default: Int.max, range: 1...Int.max)
        let againstFP32 = arguments.flag("against-fp32")
        // Reference detections at or above this score become FP-agreement ground truth.
        let referenceScore = try arguments.float("reference-score", default: 0.5, range: 0...1)
        let agreementScore = Double(referenceScore)
        for option in ["reference-model", "reference-score"] where arguments.string(option) != nil && !againstFP32 {
            throw Arguments.UsageError(description: "option --\(option) needs --against-fp32")
        }
        if let extra = arguments.positional.first {
            throw Arguments.UsageError(description: "unexpected argument '\(extra)'")
        }

        let groundTruth = try CocoGroundTruth.load(contentsOf: URL(fileURLWithPath: cocoPath))
        let images = Array(groundTruth.images.prefix(limit))
        guard !images.isEmpty else {
            throw CocoDataError(file: URL(fileURLWithPath: cocoPath).lastPathComponent, field: "images", "no images to evaluate")
        }
        let truth = groundTruth.restricted(toImages: Set(images.map(\.id)))

        // The reference runs separately unless it is the model itself and its kept detections
        // already include every one the pseudo ground truth needs.
        let referenceDirectory = arguments.string("reference-model").map { URL(fileURLWithPath: $0) } ?? options.directory
        let reuseDetections = referenceDirectory.standardizedFileURL == options.directory.standardizedFileURL
            && Double(score) <= agreementScore
        let runs = againstFP32 && !reuseDetections ? 2 : 1
        let progress = EvalProgress(total: images.count * runs)

        let detector = try options.loadDetector()
        let started = DispatchTime.now().uptimeNanoseconds
        var sizeMismatches: [String] = []
        let detections = try detect(with: detector, images: images, in: imageDirectory, score: score,
                                    progress: progress, mismatches: &sizeMismatches)
        let evaluation = try CocoEvaluator(groundTruth: truth).evaluate(detections, source: "detections")

        var agreement: (summary: CocoSummary, objects: Int)?
        if againstFP32 {
            var references = detections
            if !reuseDetections {
                let reference = Detector(model: try RTDetrModel.load(directory: referenceDirectory), inputSize: options.size)
                var ignored: [String] = []
                references = try detect(with: reference, images: images, in: imageDirectory, score: Float(agreementScore),
                                        progress: progress, mismatches: &ignored)
            }
            let pseudo = CocoGroundTruth.pseudoLabels(from: references, images: truth.images,
                                                      categories: truth.categories, minimumScore: agreementScore)
            let summary = try CocoEvaluator(groundTruth: pseudo).evaluate(detections, source: "detections").summary
            agreement = (summary, pseudo.annotations.count)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        progress.finish()
        if let first = sizeMismatches.first {
            warn("warning: \(sizeMismatches.count) image(s) decode to a size other than the ground truth's (first: \(first)); "
                + "boxes are in decoded pixels")
        }
        if let resultsPath = arguments.string("results") {
            try Data(CocoDetection.resultsJSON(detections).utf8).write(to: URL(fileURLWithPath: resultsPath))
        }

        if arguments.flag("json") {
            func stats(_ summary: CocoSummary) -> [String: Double] {
                Dictionary(uniqueKeysWithValues: summary.dictionary.map { ($0.name, $0.value) })
            }
            var object: [String: Any] = [
                "model": options.directory.path, "coco": cocoPath, "images": images.count,
                "annotations": truth.annotations.count, "detections": detections.count, "size": options.size,
                "threads": options.threads, "score_threshold": Double("\(score)") ?? Double(score), "seconds": seconds,
                "stats": stats(evaluation.summary),
                "per_category": perCategory(evaluation, truth).map {
                    ["id": $0.id, "name": $0.name, "ap": $0.ap, "ap50": $0.ap50] as [String: Any]
                },
            ]
            if let agreement {
                object["fp_agreement"] = [
                    "reference_model": referenceDirectory.path, "reference_score": Double("\(referenceScore)") ?? agreementScore,
                    "objects": agreement.objects, "stats": stats(agreement.summary),
                ] as [String: Any]
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "%@: %d images, %d annotations, %d detections (score >= %g), %.1f s (%.2f s/image)",
                         options.directory.lastPathComponent, images.count, truth.annotations.count, detections.count,
                         Double(score), seconds, seconds / Double(images.count * runs)))
            print(evaluation.summary.table())
            print("\n  category          AP     AP50")
            for row in perCategory(evaluation, truth) where row.ap >= 0 {
                let name = row.name.count < 16 ? row.name + String(repeating: " ", count: 16 - row.name.count) : row.name
                print("  \(name)  " + String(format: "%.3f  %.3f", row.ap, row.ap50))
            }
            if let agreement {
                print("\nFP-agreement against \(referenceDirectory.lastPathComponent) "
                    + "(its \(agreement.objects) detections with score >= \(referenceScore) as ground truth):")
                print(agreement.summary.table())
            }
        }
        return 0
    }

    /// AP and AP50 of every category of the ground truth (-1 for one without annotations).
    static func perCategory(_ evaluation: CocoEvaluation, _ truth: CocoGroundTruth)
        -> [(id: Int, name: String, ap: Double, ap50: Double)] {
        let names = Dictionary(truth.categories.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        return evaluation.categoryIDs.enumerated().map { index, id in
            (id, names[id] ?? "\(id)", evaluation.categoryAP(index), evaluation.categoryAP(index, iouThreshold: 0.5))
        }
    }

    /// Runs `detector` over `images`; keeps each image's best `maxDetectionsPerImage` detections
    /// (ties in the detector's order) as COCO boxes in source pixels.
    static func detect(with detector: Detector, images: [CocoGroundTruth.Image], in directory: URL, score: Float,
                       progress: EvalProgress, mismatches: inout [String]) throws -> [CocoDetection] {
        var detections: [CocoDetection] = []
        for image in images {
            let path = directory.appendingPathComponent(image.fileName).path
            let decoded = try ImageReader.read(path: path, width: detector.inputSize, height: detector.inputSize)
            if decoded.sourceWidth != image.width || decoded.sourceHeight != image.height {
                mismatches.append("\(image.fileName) \(decoded.sourceWidth)x\(decoded.sourceHeight), "
                    + "instances.json \(image.width)x\(image.height)")
            }
            let found = try decoded.rgb.withUnsafeBufferPointer {
                try detector.detect(rgb: $0, sourceWidth: decoded.sourceWidth, sourceHeight: decoded.sourceHeight,
                                    scoreThreshold: score)
            }
            let best = found.enumerated()
                .sorted { $0.element.score > $1.element.score || ($0.element.score == $1.element.score && $0.offset < $1.offset) }
                .prefix(maxDetectionsPerImage)
            detections += best.map { CocoDetection($0.element, imageID: image.id) }
            progress.advance()
        }
        return detections
    }

    static func warn(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// `eval  12/158 images  8.4 s` on stderr: rewritten in place on a terminal; otherwise one line
/// per tenth of the work, so logs stay short.
final class EvalProgress {
    private let total: Int
    private var done = 0
    private let started = DispatchTime.now().uptimeNanoseconds
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastTenth = 0

    init(total: Int) { self.total = total }

    func advance() {
        done += 1
        let tenth = done * 10 / max(total, 1)
        if isTerminal {
            write("\r" + line())
        } else if tenth > lastTenth {
            lastTenth = tenth
            write(line() + "\n")
        }
    }

    func finish() {
        if isTerminal { write("\n") }
    }

    private func line() -> String {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return String(format: "eval %5d/%d images  %.1f s", done, total, seconds)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
