"""Part 2 data: face images split per person (`dataset`), the seeded split (`splits`) and the embedded
Olivetti faces (`olivetti`). The FaceScrub downloader that fills a faces folder is `cnnlab.faces.facescrub`."""
