"""Human evaluation of generated images: HYPE (Zhou et al. 2019, "HYPE: A Benchmark for Human eYe
Perceptual Evaluation of Generative Models").

Evaluators judge real test images and a cell's samples as real or fake in a browser page served by
``bench hype serve``; HYPE-infinity is their error rate without a time limit, HYPE-time the exposure
at which they are 75% correct. The flow, one module each::

    prepare    run folder → study folder (images, manifest)     study      the study folder's format
    protocol   what one evaluator is shown                        staircase  HYPE-time's exposure rule
    answers    the answers log, checked and fsynced               server     HTTP: the page, images, API
    scoring    answers → scores (pure)                            record     scores → the run's leaderboard
    commands   ``bench hype prepare | serve | score``             page/      the evaluation page
"""
