FROM corpus/bb:1
LABEL base=1 shared=base
ENV FROM_BASE=yes
USER daemon
WORKDIR /base
EXPOSE 1111
VOLUME /base-vol
CMD ["base"]
