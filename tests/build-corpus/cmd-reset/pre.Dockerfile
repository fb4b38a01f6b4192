FROM corpus/bb:1
CMD ["base-cmd"]
ENTRYPOINT ["base-ep"]
