//! Object detection (Table 3: YOLOv3 on COCO 2014): COCO's box mAP and non-maximum
//! suppression.

pub mod coco_eval;
pub mod nms;
